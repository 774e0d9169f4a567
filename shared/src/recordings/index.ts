export * from './model.js';
export * from './store.js';
export * from './control.js';
export * from './outputs.js';
export * from './jobTrace.js';
export * from './outputTokens.js';
