/** The `pcsclite` addon ships no types; drivers/card/pcsc.ts describes the parts it uses. */
declare module 'pcsclite' {
  const pcsclite: () => unknown;
  export = pcsclite;
}
