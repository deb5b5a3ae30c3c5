/** Directory group (placeholder: being built). */
export function DirectoryGroup(props: { id: string }) {
  return (
    <section>
      <h1>Directory group {props.id}</h1>
    </section>
  );
}
