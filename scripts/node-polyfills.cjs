// Loaded with `node --require` (via NODE_OPTIONS) before js-ipfs on Node 20, which lacks
// Promise.withResolvers (added in Node 22); js-ipfs's dependencies call it at start-up.
"use strict";

if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
