// A third-party OPC UA server for the collector's tests: node-opcua, not asyncua.
//
//   node server.mjs <port> <pki folder> [<client certificate to trust>]
//
// Serves the variables of robot R01 in the fleet's namespace, as the plant
// model addresses them (ns=<fleet namespace>;s=Robots.R01.State, ...), on
// opc.tcp://127.0.0.1:<port>/shopfloor/fleet with Basic256Sha256
// SignAndEncrypt only, anonymous access. Client certificates are NOT accepted
// automatically: an unknown one is put under <pki folder>/rejected and its
// OpenSecureChannel is answered with a ServiceFault (BadSecurityChecksFailed,
// OPC UA Part 6 6.7.4), as a standards-conforming server does. A certificate
// given as the third argument is trusted from the start; the line
// "trust <certificate>" on stdin trusts one while running, as an
// administrator would (through the certificate manager, which moves it out of
// the rejected folder). Certificates are DER files.
//
// Prints "listening <url>" on stdout once it accepts connections (the test
// fixture waits for that line), "trusted <certificate>" once a trust command
// is done, and "stopped" when SIGTERM has shut it down.

import process from "node:process";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";

import {
    DataType,
    MessageSecurityMode,
    OPCUACertificateManager,
    OPCUAServer,
    SecurityPolicy,
    Variant,
} from "node-opcua";

const NAMESPACE_URI = "urn:shopfloor:ev-charging-robots";
// The variables the plant model requires of every robot (models/plant.py, default_robot_variables).
const VALUES = {
    State: { dataType: DataType.UInt16, value: 3 },
    StateOfCharge: { dataType: DataType.Double, value: 57.5 },
    ChargingPower: { dataType: DataType.Double, value: 22.0 },
    EnergyDelivered: { dataType: DataType.Double, value: 1234.5 },
    SessionsCompleted: { dataType: DataType.UInt32, value: 42 },
    SessionsFailed: { dataType: DataType.UInt32, value: 1 },
    PositionX: { dataType: DataType.Double, value: 12.25 },
    PositionY: { dataType: DataType.Double, value: -3.5 },
    ErrorCode: { dataType: DataType.UInt32, value: 0 },
};

function usage(message) {
    process.stderr.write(`${message}\nusage: node server.mjs <port> <pki folder> [<client certificate to trust>]\n`);
    process.exit(2);
}

const [portText, pkiFolder, trustedClientCertificate] = process.argv.slice(2);
const port = Number.parseInt(portText ?? "", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) usage(`bad port ${portText}`);
if (!pkiFolder) usage("missing pki folder");

// Everything under the given folder: nothing is written to the user's home (node-opcua's default).
const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: `${pkiFolder}/server`,
    automaticallyAcceptUnknownCertificate: false,
});
const userCertificateManager = new OPCUACertificateManager({
    rootFolder: `${pkiFolder}/user`,
    automaticallyAcceptUnknownCertificate: false,
});
await serverCertificateManager.initialize();
await userCertificateManager.initialize();
if (trustedClientCertificate) {
    await serverCertificateManager.trustCertificate(await readFile(trustedClientCertificate));
}

const server = new OPCUAServer({
    port,
    host: "127.0.0.1",
    hostname: "127.0.0.1",
    resourcePath: "/shopfloor/fleet",
    serverCertificateManager,
    userCertificateManager,
    securityPolicies: [SecurityPolicy.Basic256Sha256],
    securityModes: [MessageSecurityMode.SignAndEncrypt],
    allowAnonymous: true,
    buildInfo: { productName: "shopfloor test peer (node-opcua)" },
    serverInfo: { applicationUri: "urn:shopfloor:test:node-opcua" },
});
await server.initialize();

const addressSpace = server.engine.addressSpace;
const namespace = addressSpace.registerNamespace(NAMESPACE_URI);
const robots = namespace.addFolder(addressSpace.rootFolder.objects, { browseName: "Robots", nodeId: "s=Robots" });
const robot = namespace.addObject({ organizedBy: robots, browseName: "R01", nodeId: "s=Robots.R01" });
for (const [browseName, { dataType, value }] of Object.entries(VALUES)) {
    namespace.addVariable({
        componentOf: robot,
        browseName,
        nodeId: `s=Robots.R01.${browseName}`,
        dataType,
        value: new Variant({ dataType, value }),
    });
}

await server.start();
process.stdout.write(`listening ${server.getEndpointUrl()}\n`);

createInterface({ input: process.stdin }).on("line", async (line) => {
    const path = /^trust (.+)$/.exec(line.trim())?.[1];
    if (path) {
        await serverCertificateManager.trustCertificate(await readFile(path));
        process.stdout.write(`trusted ${path}\n`);
    } else {
        process.stderr.write(`unknown command: ${line}\n`);
    }
});

let stopping = false;
process.on("SIGTERM", async () => {
    if (stopping) return;
    stopping = true;
    await server.shutdown(0);
    await serverCertificateManager.dispose();
    await userCertificateManager.dispose();
    process.stdout.write("stopped\n");
    process.exit(0);
});
