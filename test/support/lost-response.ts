import { connect } from 'node:net';

export interface LostResponse {
  status: number;
  /** The body as it crossed the wire: what a client would have read, had it arrived. */
  body: string;
}

/**
 * Plays the network losing an answer: writes one HTTP/1.1 request to 127.0.0.1:`port` over its own
 * connection and, the moment the whole response has arrived (the server has done the work and
 * answered), calls `onAnswered` (a test kills the server there) and tears the connection down, so the
 * answer never reaches the client. The response is returned only so a test can show what became of
 * what it carried (a token nobody received); a client in the scenario would have nothing.
 */
export function loseResponse(port: number, request: { method: string; path: string; headers: Record<string, string>; body?: string }, onAnswered: () => void): Promise<LostResponse> {
  const body = request.body ?? '';
  const head = [`${request.method} ${request.path} HTTP/1.1`, 'host: 127.0.0.1', `content-length: ${Buffer.byteLength(body)}`, ...Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`)];
  return new Promise<LostResponse>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`the connection closed before a whole response arrived: ${received.toString()}`)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = received.subarray(0, end).toString().split('\r\n');
      const length = lines.find((line) => line.toLowerCase().startsWith('content-length:'));
      // oidc-provider's JSON answers carry a length; without one the end of the body cannot be told.
      if (!length) return reject(new Error(`no content-length in ${statusLine}`));
      const bodyBytes = received.subarray(end + 4);
      if (bodyBytes.length < Number(length.slice(length.indexOf(':') + 1))) return;
      onAnswered();
      socket.removeAllListeners('close');
      socket.destroy();
      resolve({ status: Number(statusLine.split(' ')[1]), body: bodyBytes.toString() });
    });
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}
