/** Directory user (placeholder: being built). */
export function DirectoryUser(props: { id: string }) {
  return (
    <section>
      <h1>Directory user {props.id}</h1>
    </section>
  );
}
