/** The HTTP conformance suite over the node:http engine (every Node version has it). */
import { httpConformance } from './http-suite.js';

httpConformance('node');
