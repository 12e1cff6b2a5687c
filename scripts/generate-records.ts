#!/usr/bin/env tsx
/**
 * `npm run records:generate` — regenerates common/records.ts from every schemas/*.avsc. Run it after adding or
 * changing a schema; `npm test` fails until the committed file matches.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateRecordsModule, RECORDS_FILE, readSchemaFiles } from '../common/records-codegen.ts';

const files = await readSchemaFiles();
await writeFile(RECORDS_FILE, generateRecordsModule(files));
console.log(`wrote ${fileURLToPath(RECORDS_FILE)} from ${files.map((f) => f.file).join(', ')}`);
