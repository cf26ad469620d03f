import uWS from 'uWebSockets.js';

/**
 * True when uWebSockets.js loaded its native binding. The package silently falls back to a slow
 * pure-JS implementation when the binary does not load (or when UWS_USE_FALLBACK is set); native
 * exports are C++ functions, whose source text is "[native code]".
 */
export function uwsIsNative(): boolean {
  return typeof uWS.App === 'function' && Function.prototype.toString.call(uWS.App).includes('[native code]');
}
