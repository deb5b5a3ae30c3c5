/** New request (placeholder: being built). */
export function NewRequest(props: { flowId: string }) {
  return (
    <section>
      <h1>New request {props.flowId}</h1>
    </section>
  );
}
