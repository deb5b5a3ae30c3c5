/** Access flows (placeholder: being built). */
export function Flows() {
  return (
    <section>
      <h1>Access flows</h1>
    </section>
  );
}
