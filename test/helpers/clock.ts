import type { Clock } from '../../src/lib/clock.js';

/** A clock the test moves by hand: expiry without sleeping. */
export class FakeClock implements Clock {
  #now: number;
  constructor(start: Date = new Date()) {
    this.#now = start.getTime();
  }
  now(): Date {
    return new Date(this.#now);
  }
  advanceSeconds(seconds: number): void {
    this.#now += seconds * 1000;
  }
  advanceDays(days: number): void {
    this.advanceSeconds(days * 86_400);
  }
}
