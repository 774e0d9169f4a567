export * from './model.js';
export * from './store.js';
export * from './control.js';
export * from './lifecycle.js';
export * from './runs.js';
