// `npm run bench [-- --quick]`: every benchmark in turn; each prints its table and writes
// bench/results/<name>.json. Asserts nothing about speed: it only has to complete.
const names = ['verify', 'peer', 'http', 'cold', 'admin', 'revocation', 'log', 'identity'];
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
for (const name of names) {
  if (only.length > 0 && !only.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  const mod = await import(`./${name}.mjs`);
  await mod.run();
}
console.log('\nall benchmarks completed; results in bench/results/');
process.exit(0);
