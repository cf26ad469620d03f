/**
 * The registry of the benchmark suite: every scenario module's `scenarios`, in run order (the
 * goals first, then the informational scenarios, the soak last).
 */
import type { Scenario } from '../types.js';
import { scenarios as fanout } from './fanout.js';
import { scenarios as wire } from './wire.js';
import { scenarios as compression } from './compression.js';
import { scenarios as idle } from './idle.js';
import { scenarios as stalled } from './stalled.js';
import { scenarios as books } from './books.js';
import { scenarios as kafka } from './kafka.js';
import { scenarios as micro } from './micro.js';
import { scenarios as http } from './http.js';
import { scenarios as tuning } from './tuning.js';
import { scenarios as workers } from './workers.js';
import { scenarios as soak } from './soak.js';

export const scenarios: Scenario[] = [
  ...fanout,
  ...wire,
  ...compression,
  ...idle,
  ...stalled,
  ...books,
  ...kafka,
  ...micro,
  ...http,
  ...tuning,
  ...workers,
  ...soak,
];
