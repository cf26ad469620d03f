/** A sparkline on a canvas, sharp on high-DPI screens. Shared by the board and the ops page. */

export const COLORS = { up: '#22c55e', down: '#ef4444', flat: '#8b98a9', accent: '#38bdf8' } as const;

/** Sizes the canvas' backing store to its CSS box × devicePixelRatio; returns the 2D context in CSS pixels. */
function context(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; w: number; h: number } | undefined {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (w === 0 || h === 0) return undefined;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return undefined;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

/**
 * Draws `values` (oldest first) scaled to the canvas. `color` defaults to up/down by the first
 * and last value. `capacity` fixes the x scale (the line grows from the left until it is full).
 */
export function drawSparkline(
  canvas: HTMLCanvasElement,
  values: readonly number[],
  opts: { color?: string; capacity?: number; zeroBased?: boolean } = {},
): void {
  const c = context(canvas);
  if (!c || values.length < 2) return;
  const { ctx, w, h } = c;
  let min = opts.zeroBased ? 0 : Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max === min) {
    max += 1;
    min -= opts.zeroBased ? 0 : 1;
  }
  const first = values[0] as number;
  const last = values[values.length - 1] as number;
  const color = opts.color ?? (last > first ? COLORS.up : last < first ? COLORS.down : COLORS.flat);
  const n = Math.max(opts.capacity ?? values.length, values.length);
  const pad = 2;
  const x = (i: number) => (i / (n - 1)) * (w - 1);
  const y = (v: number) => pad + (1 - (v - min) / (max - min)) * (h - 2 * pad);
  ctx.beginPath();
  values.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
  ctx.lineWidth = 1.5;
  ctx.lineJoin = 'round';
  ctx.strokeStyle = color;
  ctx.stroke();
  ctx.lineTo(x(values.length - 1), h);
  ctx.lineTo(0, h);
  ctx.closePath();
  const fill = ctx.createLinearGradient(0, 0, 0, h);
  fill.addColorStop(0, `${color}55`);
  fill.addColorStop(1, `${color}00`);
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.beginPath();
  ctx.arc(x(values.length - 1), y(last), 2, 0, Math.PI * 2);
  ctx.fillStyle = color;
  ctx.fill();
}
