/** Audit (placeholder: being built). */
export function Audit() {
  return (
    <section>
      <h1>Audit</h1>
    </section>
  );
}
