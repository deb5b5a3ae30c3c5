/** My requests (placeholder: being built). */
export function MyRequests() {
  return (
    <section>
      <h1>My requests</h1>
    </section>
  );
}
