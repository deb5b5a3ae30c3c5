/** Bundle (placeholder: being built). */
export function BundleEditor(props: { id: string }) {
  return (
    <section>
      <h1>Bundle {props.id}</h1>
    </section>
  );
}
