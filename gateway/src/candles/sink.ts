import type { TradeTick } from '../../../protocol/src/ticks.js';
import type { TickSink } from '../sources/source.js';
import type { CandleEngine } from './engine.js';

/**
 * A TickSink in front of the hub's: every tick goes on to `target` unchanged, and each `trade.*`
 * tick is also folded into the candle engine (other kinds cost one prefix check). Upstream resets
 * mark the open candles of those symbols incomplete before they are passed on.
 */
export function candleSink(target: TickSink, engine: CandleEngine): TickSink {
  const reset = target.upstreamReset?.bind(target);
  return {
    publish(topic, tick, src, off) {
      target.publish(topic, tick, src, off);
      if (topic.startsWith('trade.')) engine.trade(topic, tick as TradeTick);
    },
    ...(reset
      ? {
          upstreamReset(topics: readonly string[]) {
            engine.upstreamReset(topics);
            reset(topics);
          },
        }
      : {}),
  };
}
