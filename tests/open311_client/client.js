// Drives an Open311 GeoReport v2 endpoint with the npm `open311` client library, over HTTP.
//
//   node client.js flow  '<json>'   lists services, reads a definition, submits a request and
//                                    reads it back by id, by a list of ids and in the list
//   node client.js token '<json>'   exchanges a token for the request's id
//
// The JSON names {endpoint, jurisdiction, apiKey, request, token}. The answer is one JSON
// object on stdout; a failure exits 1 with the client's error on stderr.
'use strict';

var Open311 = require('open311');

function call(client, method, args) {
  return new Promise(function (resolve, reject) {
    client[method].apply(client, args.concat([function (err, data) {
      if (err) {
        reject(new Error(method + ': ' + err + ' ' + (typeof data === 'string' ? data : '')));
      } else {
        resolve(data);
      }
    }]));
  });
}

async function flow(client, config) {
  var request = config.request;
  var services = await call(client, 'serviceList', []);
  var definition = await call(client, 'serviceDefinition', [request.service_code]);
  var created = await call(client, 'submitRequest', [request]);
  var id = created[0].service_request_id;
  var byId = await call(client, 'serviceRequests', [id]);
  var byIds = await call(client, 'serviceRequests', [[id]]);
  var list = await call(client, 'serviceRequests', [{ service_code: request.service_code }]);
  return {
    services: services,
    definition: definition,
    created: created,
    byId: byId,
    byIds: byIds,
    list: list
  };
}

async function main() {
  var action = process.argv[2];
  var config = JSON.parse(process.argv[3]);
  var client = new Open311({
    endpoint: config.endpoint,
    jurisdiction: config.jurisdiction,
    apiKey: config.apiKey,
    format: 'json'
  });
  var result;
  if (action === 'flow') {
    result = await flow(client, config);
  } else if (action === 'token') {
    result = await call(client, 'token', [config.token]);
  } else {
    throw new Error('unknown action ' + action);
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch(function (error) {
  process.stderr.write(String(error && error.stack || error) + '\n');
  process.exit(1);
});
