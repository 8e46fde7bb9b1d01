// Transactional outbox. A message is enqueued with the executor of the change that causes
// it, so the two commit together; the delivery worker sends it later, with retries.
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { EmailMessage } from './templates.js';

export async function enqueueEmail(db: Kysely<Database>, message: EmailMessage): Promise<void> {
  await db
    .insertInto('email_outbox')
    .values({
      kind: message.kind,
      to_address: message.to,
      subject: message.subject,
      text_body: message.text,
      html_body: message.html,
    })
    .execute();
}
