export * from './model.js';
export * from './store.js';
export * from './control.js';
