/* Writes docs/errors.md from config/error-codes.ts: `npm run docs:errors`. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderErrorDocs } from './error-codes';

const file = join(__dirname, '..', 'docs', 'errors.md');
writeFileSync(file, renderErrorDocs());
console.error(`updated ${file}`);
