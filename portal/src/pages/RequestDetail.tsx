/** Request (placeholder: being built). */
export function RequestDetail(props: { id: string }) {
  return (
    <section>
      <h1>Request {props.id}</h1>
    </section>
  );
}
