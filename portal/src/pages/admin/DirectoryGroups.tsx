/** Directory groups (placeholder: being built). */
export function DirectoryGroups() {
  return (
    <section>
      <h1>Directory groups</h1>
    </section>
  );
}
