// How the console shows dates and audit rows (text only; the templates escape it).
import type { AuditLogRow } from '../../db/schema.js';

/** A timestamp as "2026-12-07 05:30 UTC" (one zone for every admin: the audit log's). */
export function when(date: Date | string | null | undefined): string {
  if (!date) return '—';
  const iso = (date instanceof Date ? date : new Date(date)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** An audit row's details as "key: value" pairs, short enough for a table cell. */
export function detailsText(details: unknown): string {
  if (!details || typeof details !== 'object') return '';
  const text = Object.entries(details as Record<string, unknown>)
    .map(([key, value]) => `${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join(', ');
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

/** A row of an audit table: action, time, details. */
export const auditRow = (row: AuditLogRow): [{ text: string; code: true; nowrap: true }, string, { text: string; long: true }] => [
  { text: row.action, code: true, nowrap: true },
  when(row.created_at),
  { text: detailsText(row.details), long: true },
];
