#!/usr/bin/env node
/**
 * Writes docs/fixtures/book-checksum.json, the order-book checksum vectors, from
 * protocol/src/book-fixtures.ts (run by `npm run docs:fixtures`, after a build). A test fails when
 * the committed file differs.
 */
import { writeFileSync } from 'node:fs';

const { bookChecksumFixturesJson } = await import(new URL('../dist/protocol/src/book-fixtures.js', import.meta.url).href);
writeFileSync(new URL('../docs/fixtures/book-checksum.json', import.meta.url), bookChecksumFixturesJson());
