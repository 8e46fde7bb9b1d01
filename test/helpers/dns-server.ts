// A DNS server on loopback (the `dns2` package) answering TXT questions from a map the test
// fills: the app is pointed at it with DNS_SERVERS=127.0.0.1:<port>.
import { createRequire } from 'node:module';

const requireCjs = createRequire(import.meta.url);
// dns2 ships no types; the little used here is typed by hand.
const dns2 = requireCjs('dns2') as {
  Packet: { TYPE: { TXT: number }; CLASS: { IN: number }; createResponseFromRequest(request: unknown): { answers: unknown[] } };
  createServer(options: { udp: boolean; handle: (request: { questions: Array<{ name: string; type: number }> }, send: (response: unknown) => void) => void }): {
    listen(options: { udp: { port: number; address: string } }): Promise<void>;
    addresses(): { udp?: { port: number } };
    close(): Promise<void>;
  };
};

export interface TestDnsServer {
  /** ip:port for DNS_SERVERS. */
  address: string;
  /** TXT values by name (lower-case, no trailing dot). */
  txt: Map<string, string[]>;
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const txt = new Map<string, string[]>();
  const { Packet } = dns2;
  const server = dns2.createServer({
    udp: true,
    handle(request, send) {
      const response = Packet.createResponseFromRequest(request);
      const question = request.questions[0];
      if (question && question.type === Packet.TYPE.TXT) {
        for (const data of txt.get(question.name.toLowerCase().replace(/\.$/, '')) ?? []) {
          response.answers.push({ name: question.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 1, data });
        }
      }
      send(response);
    },
  });
  await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const port = server.addresses().udp!.port;
  return { address: `127.0.0.1:${port}`, txt, close: () => server.close() };
}
