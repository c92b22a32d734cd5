// Starts GraphiQL on /graphiql. A file of its own because the page's Content-Security-Policy
// allows no inline script. The starting tabs (one example operation per user group, from
// schema/examples/) come from the page's JSON data block.
(function () {
  'use strict';
  var data = document.getElementById('trellis-graphiql-tabs');
  var tabs = data ? JSON.parse(data.textContent) : [];
  var fetcher = GraphiQL.createFetcher({
    url: new URL('/graphql', window.location.origin).toString(),
  });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: tabs,
      defaultEditorToolsVisibility: true,
    }),
  );
})();
