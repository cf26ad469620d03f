/**
 * The registry of the benchmark suite: every scenario module's `scenarios`, in run order.
 * Modules of other groups (kafka, micro, http, tuning, soak) are added here as they land.
 */
import type { Scenario } from '../types.js';
import { scenarios as fanout } from './fanout.js';
import { scenarios as wire } from './wire.js';
import { scenarios as compression } from './compression.js';
import { scenarios as idle } from './idle.js';
import { scenarios as stalled } from './stalled.js';

export const scenarios: Scenario[] = [...fanout, ...wire, ...compression, ...idle, ...stalled];
