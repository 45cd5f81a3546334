// One session through a TypeScript client generated from docs/openapi.yaml (types by
// openapi-typescript in generated/conduit.ts, requests by openapi-fetch), against a
// live server: register, sign in, create an article with tags, list it, favorite it,
// comment, refresh the session, sign out. tsc type-checks every call and every field read
// against the generated types, and each step checks what the server answered, so a wrong
// document or a wrong server fails the run.
//
//   node dist/src/session.js ORIGIN        e.g. node dist/src/session.js http://127.0.0.1:8080

import createClient from "openapi-fetch";
import type { components, paths } from "../generated/conduit.js";

type User = components["schemas"]["User"];
type ErrorCode = components["schemas"]["ErrorCode"];

const origin = process.argv[2];
if (!origin) {
  console.error("usage: node dist/src/session.js ORIGIN");
  process.exit(2);
}
// The document's server is `/api`.
const baseUrl = `${origin.replace(/\/+$/, "")}/api`;

function client(token?: string) {
  return createClient<paths>({
    baseUrl,
    headers: token === undefined ? {} : { Authorization: `Token ${token}` },
  });
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** The body of a successful answer with the expected status, or an error naming what came instead. */
function expectOk<T>(
  result: { data?: T; error?: unknown; response: Response },
  status: number,
): T {
  check(
    result.response.status === status && result.data !== undefined,
    `expected ${status}, got ${result.response.status}: ${JSON.stringify(result.error ?? result.data)}`,
  );
  return result.data;
}

/** Checks that a call failed with the given status and error code. */
function expectError(
  result: { error?: { code: ErrorCode }; response: Response },
  status: number,
  code: ErrorCode,
): void {
  check(
    result.response.status === status && result.error?.code === code,
    `expected ${status} ${code}, got ${result.response.status}: ${JSON.stringify(result.error)}`,
  );
}

async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const value = await body();
    console.log(`  ok  ${name} (${Math.round(performance.now() - started)} ms)`);
    return value;
  } catch (error) {
    throw new Error(`step '${name}' failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const unique = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
const username = `ts${unique}`;
const email = `${username}@example.com`;
const password = "correct horse battery";
const tag = `ts-client-${unique}`;
const anonymous = client();

const registered: User = await step("register", async () => {
  const result = await anonymous.POST("/users", { body: { user: { username, email, password } } });
  const { user } = expectOk(result, 201);
  check(user.username === username && user.email === email, `registered as ${JSON.stringify(user)}`);
  check(typeof user.refreshToken === "string", "no refresh token after registration");
  return user;
});

await step("sign-in with a wrong password is 401 invalid_credentials", async () => {
  const result = await anonymous.POST("/users/login", {
    body: { user: { email, password: "not the password" } },
  });
  expectError(result, 401, "invalid_credentials");
});

const signedIn: User = await step("sign in", async () => {
  const { user } = expectOk(await anonymous.POST("/users/login", { body: { user: { email, password } } }), 200);
  check(user.username === username, `signed in as ${user.username}`);
  check(
    typeof user.refreshToken === "string" && user.refreshToken !== registered.refreshToken,
    `refresh token ${user.refreshToken}`,
  );
  return user;
});
const author = client(signedIn.token);

const article = await step("create an article with tags", async () => {
  const result = await author.POST("/articles", {
    body: {
      article: {
        title: `Generated in TypeScript ${unique}`,
        description: "An openapi-fetch client",
        body: "Written through the generated client.",
        tagList: [tag, "generated-clients"],
      },
    },
  });
  const { article } = expectOk(result, 201);
  check(
    JSON.stringify(article.tagList) === JSON.stringify([tag, "generated-clients"]),
    `tags ${JSON.stringify(article.tagList)}`,
  );
  check(
    article.author.username === username && !article.favorited && article.favoritesCount === 0,
    JSON.stringify(article),
  );
  return article;
});

await step("list it by tag", async () => {
  const list = expectOk(await anonymous.GET("/articles", { params: { query: { tag } } }), 200);
  check(list.articlesCount === 1 && list.articles.length === 1, `${list.articlesCount} articles`);
  const [item] = list.articles;
  check(item !== undefined && item.slug === article.slug && item.title === article.title, `listed ${JSON.stringify(item)}`);
  check(JSON.stringify(item.tagList) === JSON.stringify(article.tagList), `listed tags ${JSON.stringify(item.tagList)}`);
});

await step("favorite it", async () => {
  const result = await author.POST("/articles/{slug}/favorite", { params: { path: { slug: article.slug } } });
  const favorited = expectOk(result, 200).article;
  check(favorited.favorited && favorited.favoritesCount === 1, `favorited ${favorited.favorited} count ${favorited.favoritesCount}`);
  const list = expectOk(await author.GET("/articles", { params: { query: { favorited: username } } }), 200);
  const [item] = list.articles;
  check(list.articles.length === 1 && item?.slug === article.slug, `favorites ${JSON.stringify(list.articles)}`);
  check(item.favorited && item.favoritesCount === 1, `listed ${JSON.stringify(item)}`);
});

await step("comment", async () => {
  const text = `A comment from TypeScript ${unique}`;
  const result = await author.POST("/articles/{slug}/comments", {
    params: { path: { slug: article.slug } },
    body: { comment: { body: text } },
  });
  const { comment } = expectOk(result, 201);
  check(comment.body === text && comment.author.username === username, JSON.stringify(comment));
  const { comments } = expectOk(
    await anonymous.GET("/articles/{slug}/comments", { params: { path: { slug: article.slug } } }),
    200,
  );
  check(
    comments.some((c) => c.id === comment.id && c.body === text),
    `comments ${JSON.stringify(comments)}`,
  );
});

const refreshed: User = await step("refresh the session", async () => {
  check(signedIn.refreshToken !== undefined, "no refresh token");
  const result = await anonymous.POST("/auth/refresh", { body: { refreshToken: signedIn.refreshToken } });
  const { user } = expectOk(result, 200);
  check(user.username === username, `refreshed as ${user.username}`);
  check(
    typeof user.refreshToken === "string" && user.refreshToken !== signedIn.refreshToken,
    "refresh token not rotated",
  );
  const me = expectOk(await client(user.token).GET("/user"), 200).user;
  check(me.username === username && me.email === email, `the refreshed token is ${JSON.stringify(me)}`);
  return user;
});

await step("sign out; the refresh token is then refused with 401", async () => {
  const result = await client(refreshed.token).POST("/auth/logout");
  check(result.response.status === 204, `status ${result.response.status}: ${JSON.stringify(result.error)}`);
  check(refreshed.refreshToken !== undefined, "no refresh token");
  const again = await anonymous.POST("/auth/refresh", { body: { refreshToken: refreshed.refreshToken } });
  expectError(again, 401, "refresh_token_invalid");
});

console.log("TypeScript client (openapi-typescript + openapi-fetch): session passed");
