// Runs before every test file (vitest.config.ts's setupFiles): whatever child process a file
// started outside its tests (in a beforeAll) and left running ends with the file.

import { afterAll } from "vitest";
import { stopAll } from "./children.js";

afterAll(stopAll);
