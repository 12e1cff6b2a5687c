/** The pages import their stylesheet; esbuild emits it as `<page>.css` beside the script. */
declare module '*.css';
