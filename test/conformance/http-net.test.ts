/** The HTTP conformance suite over the net engine (the default: node:net + llhttp). */
import { httpConformance } from './http-suite.js';

httpConformance('net');
