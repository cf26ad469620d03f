/**
 * The benchmark suite's contract. Every scenario is a module under bench/src/suite/scenarios/
 * exporting `scenarios: Scenario[]`; the runner (bench/src/suite/run.ts) picks them by id or
 * group, gives each a context, and writes what they return into the results JSON and report.
 *
 * Numbers from one run on a shared 2-core machine mean little alone: a goal is always a ratio of
 * tickwire against a baseline measured in the same run, on the same load.
 */

export interface SuiteOptions {
  quick: boolean;
  /** Clients for fan-out scenarios (default depends on quick). */
  clients?: number;
  /** Topics for fan-out scenarios. */
  topics?: number;
  /** Ticks per second offered by the feed. */
  rate?: number;
  /** Measurement window per run, in seconds. */
  durationSec?: number;
  /** Soak duration in seconds (--duration 30m → 1800), only for the soak scenario. */
  soakSec?: number;
  /** Other processes' CPU (% of one core) above which a run is repeated, then its goals invalid. */
  maxOtherCpu?: number;
  /** Scenario ids or groups to run; all when empty. */
  only: string[];
  /** Scenario ids or groups not to run. */
  skip?: string[];
}

export interface ScenarioContext {
  opts: SuiteOptions;
  /** Rewrites the live progress line of this scenario. */
  progress(line: string): void;
  /** Writes a log line above the progress line. */
  log(line: string): void;
  /** Absolute path of the repository root (dist/ is built before the suite runs). */
  root: string;
  /**
   * A resource shared by the scenarios of one suite run (e.g. one Kafka broker for both Kafka
   * scenarios): created by the first scenario that asks for `key`, disposed by the runner after
   * the last scenario, on every path.
   */
  shared<T>(key: string, create: () => Promise<{ value: T; dispose: () => Promise<void> }>): Promise<T>;
}

/** One goal of issue 6 (P1–P10): a ratio against a baseline measured in the same run. */
export interface GoalResult {
  id: string; // "P1" ... "P10"
  title: string;
  /** tickwire ÷ baseline (or baseline ÷ tickwire where smaller is better; say which in `direction`). */
  value: number | null;
  goal: number;
  /** "min": value must be ≥ goal; "max": value must be ≤ goal. */
  direction: 'min' | 'max';
  /** null when not measured (then `note` says why: feature missing, tool absent). */
  pass: boolean | null;
  /**
   * The verdict in words (issue 18): "pass", "fail", "invalid: <reason>" (the runs behind it
   * contradict themselves: no verdict), "smoke" (a quick run: never a verdict), "not measured".
   */
  status?: string;
  /** Set when the load generator, not the server, limited a run behind the goal. */
  limitedBy?: string;
  note?: string;
  /**
   * Fan-out goals (P1–P4) have two ratios (issue 18 pt 2): `value` is the capacity ratio (each side's
   * best run, ticks per CPU-second), `strict` the ratio at one and the same offered load. Each says
   * how it was obtained, for the README table.
   */
  capacityHow?: string;
  strict?: { value: number | null; how: string };
  /** The raw figures behind the ratio: both sides, units in the key names. */
  raw: Record<string, unknown>;
}

/** A chart the report renders (vega-lite spec, data inline). */
export interface ChartSpec {
  name: string; // file name stem, e.g. "fanout-throughput"
  title: string;
  spec: Record<string, unknown>;
}

export interface ScenarioResult {
  goals: GoalResult[];
  /** Anything else worth recording (tables, raw runs). */
  data?: Record<string, unknown>;
  charts?: ChartSpec[];
  /** Markdown paragraphs for the report (findings, caveats). */
  notes?: string[];
}

export interface Scenario {
  id: string;
  /** Group used by --only (e.g. "fanout", "kafka", "wire", "micro", "http", "tuning", "soak"). */
  group: string;
  title: string;
  /** Runs in --quick mode. */
  quick: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}
