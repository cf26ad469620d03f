import { wireFixturesJson } from '../../protocol/src/fixtures.js';
import { nodeDeflate } from './codecs.js';

/** `npm run docs:fixtures`: writes the wire fixtures (docs/fixtures/wire.json) to stdout, compressed with node:zlib. */
process.stdout.write(wireFixturesJson(nodeDeflate));
