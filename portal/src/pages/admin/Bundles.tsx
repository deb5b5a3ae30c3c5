/** Bundles (placeholder: being built). */
export function Bundles() {
  return (
    <section>
      <h1>Bundles</h1>
    </section>
  );
}
