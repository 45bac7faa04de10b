import type { Process } from '../../src/process/types.js';

/** The pygeoapi classic: greets a name, synchronously or not. */
const helloWorld: Process = {
  description: {
    id: 'hello-world',
    version: '1.0.0',
    title: 'Hello World',
    description: 'Greets the given name, with an optional message. A small process to try clients with.',
    keywords: ['hello world', 'example'],
    jobControlOptions: ['sync-execute', 'async-execute', 'dismiss'],
    outputTransmission: ['value', 'reference'],
    inputs: {
      name: {
        title: 'Name',
        description: 'The name to greet.',
        schema: { type: 'string', minLength: 1, maxLength: 1000 },
        minOccurs: 1,
        maxOccurs: 1,
      },
      message: {
        title: 'Message',
        description: 'An optional message added to the greeting.',
        schema: { type: 'string', maxLength: 10000 },
        minOccurs: 0,
        maxOccurs: 1,
      },
    },
    outputs: {
      greeting: {
        title: 'Greeting',
        description: 'The greeting.',
        schema: { type: 'object', contentMediaType: 'application/json', properties: { id: { type: 'string' }, value: { type: 'string' } } },
      },
    },
    example: { inputs: { name: 'World', message: 'Nice to meet you.' } },
  },
  async execute(inputs) {
    const message = typeof inputs.message === 'string' && inputs.message ? ` ${inputs.message}` : '';
    return { greeting: { id: 'greeting', value: `Hello ${inputs.name as string}!${message}`.trim() } };
  },
};

export default helloWorld;
