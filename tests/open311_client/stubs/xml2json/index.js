// open311@0.0.12 depends on xml2json@~0.2.4, whose native node-expat@1.4.1 does not compile on
// current Node. It is only used for XML answers to submitRequest; the test drives JSON.
module.exports = {
  toJson: function () {
    throw new Error('XML is not available in this test set-up: use format "json"');
  }
};
