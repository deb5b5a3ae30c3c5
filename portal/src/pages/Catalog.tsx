/** Request access (placeholder: being built). */
export function Catalog() {
  return (
    <section>
      <h1>Request access</h1>
    </section>
  );
}
