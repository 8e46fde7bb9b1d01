// docs/configuration.md, rendered from the one configuration table (config-table.ts).
// `npm run docs:config` writes it; test/config-docs.test.ts fails when the file and the table differ.
import { CONFIG_SECTIONS, type Setting } from './config-table.js';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function defaultOf(row: Setting<unknown>): string {
  if (row.defaultText) return row.defaultText;
  const value = row.fallback;
  if (value === undefined) return 'unset';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : `\`${value.join(',')}\``;
  return `\`${String(value)}\``;
}

export function renderConfigurationPage(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from src/config-table.ts by `npm run docs:config`: edit the table, not this page. -->',
    '',
    'Keyhold reads its configuration from the environment once, at start, through one table',
    '(`src/config-table.ts`). Every value is validated: a bad one stops the start with one line naming',
    'the variable (`Invalid configuration: PORT must be a whole number from 0 to 65535 (got "eighty")`).',
    'A blank value counts as unset. Secrets are never echoed in those lines.',
    '',
    'Production advice (what every instance must share): [production.md](production.md).',
  ];
  for (const [section, rows] of Object.entries(CONFIG_SECTIONS)) {
    lines.push('', `## ${section}`, '', '| variable | default | parser | meaning |', '|---|---|---|---|');
    for (const row of Object.values(rows) as Array<Setting<unknown>>) {
      lines.push(`| \`${row.env}\` | ${cell(defaultOf(row))} | ${cell(row.parser.describe)} | ${cell(row.doc)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
