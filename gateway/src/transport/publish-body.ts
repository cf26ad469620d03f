import { z } from 'zod';
import { checkPayload, type PayloadLimits } from '../../../protocol/src/payload.js';
import type { Payload } from '../../../protocol/src/ticks.js';
import { parseTopic } from '../../../protocol/src/topics.js';

/**
 * The body of POST /v1/publish, validated as a whole before anything is published: either one
 * message `{"topic", "data"}` or `{"messages": [{topic, data}, ...]}`. Market topics come only from
 * the source, never from here. Any body (including `null`, arrays, wrong types) gets an answer
 * naming the offending field; this never throws.
 */
const topic = z.string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') }).refine((t) => {
  const p = parseTopic(t);
  return p !== undefined && (p.kind === 'user' || p.kind === 'sys');
}, 'must be user.<sub>.<stream> or sys.announce');

const message = z.strictObject(
  {
    topic,
    // Checked for depth and size below, without recursion: z.unknown() does not descend.
    data: z.custom<Payload>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
      error: (i) => (i.input === undefined ? 'is required' : 'must be an object'),
    }),
  },
  { error: (i) => (i.code === 'unrecognized_keys' ? `unknown field ${i.keys.join(', ')}` : 'must be an object') },
);

/** Most messages in one request: a bound on the work one request can cause. */
export const MAX_PUBLISH_MESSAGES = 1000;

const batch = z.strictObject(
  {
    messages: z
      .array(message, { error: (i) => (i.input === undefined ? 'is required' : 'must be an array') })
      .min(1, 'must not be empty')
      .max(MAX_PUBLISH_MESSAGES, `at most ${MAX_PUBLISH_MESSAGES} messages`),
  },
  { error: (i) => (i.code === 'unrecognized_keys' ? `unknown field ${i.keys.join(', ')}` : 'must be an object') },
);

export type PublishMessage = { topic: string; data: Payload };

export type PublishBody =
  | { ok: true; messages: PublishMessage[] }
  /** `reason` is a short code (bad_body, too_deep, too_large); `error` names the field. */
  | { ok: false; reason: string; error: string };

export function parsePublishBody(body: unknown, limits: PayloadLimits): PublishBody {
  const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'messages' in body;
  const parsed = isBatch ? batch.safeParse(body) : message.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const where = fieldPath(issue.path);
    return { ok: false, reason: 'bad_body', error: `${where === '' ? 'body' : where} ${issue.message}` };
  }
  const messages: PublishMessage[] = 'messages' in parsed.data ? parsed.data.messages : [parsed.data];
  for (const [i, m] of messages.entries()) {
    const problem = checkPayload(m.data, limits);
    if (problem) return { ok: false, reason: problem.reason, error: `${isBatch ? `messages[${i}].data` : 'data'} ${problem.detail}` };
  }
  return { ok: true, messages };
}

/** `messages[0].topic` from zod's path. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}
