// `npm run docs:config`: writes docs/configuration.md from the configuration table.
import { writeFileSync } from 'node:fs';
import { renderConfigurationPage } from '../src/config-docs.js';

const target = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(target, renderConfigurationPage());
process.stdout.write(`wrote ${target.pathname}\n`);
