/** Integration (placeholder: being built). */
export function IntegrationEditor(props: { id: string }) {
  return (
    <section>
      <h1>Integration {props.id}</h1>
    </section>
  );
}
