/** Access flow (placeholder: being built). */
export function FlowEditor(props: { id: string }) {
  return (
    <section>
      <h1>Access flow {props.id}</h1>
    </section>
  );
}
