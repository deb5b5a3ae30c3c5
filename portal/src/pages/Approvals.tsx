/** Approvals (placeholder: being built). */
export function Approvals() {
  return (
    <section>
      <h1>Approvals</h1>
    </section>
  );
}
