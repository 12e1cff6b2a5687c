#!/usr/bin/env tsx
/**
 * `npm run records:generate` — regenerates common/records.ts from the schemas TypeScript uses (TYPED_SCHEMAS). Run it after adding or
 * changing a schema; `npm test` fails until the committed file matches.
 */
import { writeFile } from 'node:fs/promises';
import { generateRecordsModule, RECORDS_FILE, readSchemaFiles } from '../common/records-codegen.ts';

const files = await readSchemaFiles();
await writeFile(RECORDS_FILE, generateRecordsModule(files));
console.log(`wrote common/records.ts from ${files.map((f) => f.file).join(', ')}`);
