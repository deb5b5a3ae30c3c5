import '#lib/local/polyfills.ts';
