/** Integrations (placeholder: being built). */
export function Integrations() {
  return (
    <section>
      <h1>Integrations</h1>
    </section>
  );
}
