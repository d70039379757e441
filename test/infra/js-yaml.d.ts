// js-yaml 4 ships no types; the checks here need only these two.
declare module 'js-yaml' {
  export function load(text: string): unknown;
  export function loadAll(text: string): unknown[];
}
