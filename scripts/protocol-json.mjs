#!/usr/bin/env node
/**
 * Writes client/python/tickwire/protocol.json from the protocol tables (run by
 * `npm run docs:protocol`, after a build). A test fails when the committed file differs.
 */
import { writeFileSync } from 'node:fs';

const { protocolJsonText } = await import(new URL('../dist/protocol/src/protocol-json.js', import.meta.url).href);
writeFileSync(new URL('../client/python/tickwire/protocol.json', import.meta.url), protocolJsonText());
