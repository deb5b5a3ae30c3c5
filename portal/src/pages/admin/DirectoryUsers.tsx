/** Directory users (placeholder: being built). */
export function DirectoryUsers() {
  return (
    <section>
      <h1>Directory users</h1>
    </section>
  );
}
